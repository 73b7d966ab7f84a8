//! # hetal-ckks
//!
//! A leveled RNS-CKKS backend for hetal.
#![allow(dead_code)]
pub mod arith;
pub mod ntt;
