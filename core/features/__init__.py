"""What is measured on each image: deep features from ONNX models and classical morphology parameters.

Modules are imported by their full name (``from core.features.MODULE import NAME``);
this package re-exports nothing.
"""
