//! Integration tests of the policy engine, one module per topic: loading real and broken
//! rule files ([`load`]), the engine's verdicts over flat records ([`engine`]), and the
//! shared rule sets over the shared traces against an independent oracle ([`traces`]).

mod engine;
mod falco;
mod load;
mod traces;
