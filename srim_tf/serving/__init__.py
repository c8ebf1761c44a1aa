"""Serving: a trained generator as a SavedModel for TF Serving (`saved_model`, with checked,
bounded requests) and as a TensorFlow Lite file for devices (`tflite`). Imports nothing from
training: a server loads the generator and the inference code only.
"""
