//! Extension algorithms.
/// Extension trait.
pub trait EvaluatorExt {}
