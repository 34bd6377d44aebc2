//! Attribute names offered in "did you mean …?" suggestions: the model's catalogue.

use sysflow_model::flat::Field;

/// Every name the attribute table resolves, for suggestions.
pub fn attribute_names() -> Vec<&'static str> {
    Field::all_names().to_vec()
}
