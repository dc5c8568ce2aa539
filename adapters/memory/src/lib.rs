//! In-process adapters for every port (being built).
