//! bindlog's Datalog engine: Soufflé-style rules compiled onto datafrog, with proofs.
