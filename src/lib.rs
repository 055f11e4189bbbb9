//! outrange: train small neural networks and measure what they do outside the range
//! they were trained on.

pub mod csv_input;
