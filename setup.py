"""Install tfsigns: `pip install -e .[dev]` (the Makefile does this into .venv)."""

from setuptools import find_packages, setup

NOTEBOOK = ["ipykernel", "ipywidgets"]  # the walkthrough, with its photo upload

setup(
    name="tfsigns",
    version="0.1.0",
    description="The deep-learning course's TensorFlow 1.x-style SIGNS trainer, on tf.compat.v1",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["tfsigns", "tfsigns.*"]),
    # the reader's settings, the live page, the web reader (its LiteRT.js: npm ci in tfsigns/web, make web)
    package_data={"tfsigns": ["reader.json", "reader_signs.json", "reader_pixels.json", "web/*.js",
                              "web/*.html", "web/*.css", "web/*.webmanifest", "web/package.json",
                              "web/package-lock.json"],
                  "tfsigns.reader": ["page.html"]},
    install_requires=[
        "tensorflow>=2.16",
        "numpy",
        "h5py",
        "matplotlib",
        "tqdm",
        "Pillow",  # reading your own photos (tfsigns.predict)
        # the hand model's TensorFlow Lite runtime (tfsigns.hands; elsewhere TensorFlow's own, tf.lite)
        "ai-edge-litert; sys_platform == 'linux' or sys_platform == 'darwin'",
        "starlette",  # the live reader page (tfsigns.serve)
        "uvicorn",
    ],
    extras_require={
        "dev": ["pytest", "pytest-xdist>=3.6", "ruff", "nbclient", "nbformat", *NOTEBOOK, "ray", "hypothesis",
                "selenium"],  # selenium: the live page's test drives Debian's Chromium
        "notebook": NOTEBOOK,
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "ray": ["ray"],
        "yaml": ["pyyaml"],  # search spaces written in YAML (tfsigns.tune --space FILE.yaml)
    },
)
