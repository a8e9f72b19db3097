from setuptools import find_packages, setup

PACKAGE = "allinone_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="All-in-One vision-language single-object tracker as a ROS 2 perception package",
    license="Apache-2.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/models", ["models/allinone_uav_small.safetensors", "models/text_grounder_uav_small.safetensors"]),
        (f"share/{PACKAGE}/config", ["config/tracker.yaml", "config/follow_controller.yaml",
                                     "config/fastdds_large_frames.xml", "config/fastdds_large_frames_udp.xml"]),
        (f"share/{PACKAGE}/msg", ["msg/TrackedTarget.msg", "msg/TrackRequest.msg"]),
    ],
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "timm>=1.0",
        "transformers>=4.40",
        "safetensors",
        "numpy",
        "opencv-python-headless",
        "pyyaml",
        "tqdm",
        "matplotlib",
        "tensorboard",
        "rosbags",
    ],
    extras_require={"onnx": ["onnx", "onnxruntime"]},
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "allinone-track = allinone_ros.cli.track:main",
            "allinone-metrics = allinone_ros.cli.metrics:main",
            "allinone-eval = allinone_ros.cli.eval:main",
            "allinone-make-synthetic = allinone_ros.cli.make_synthetic:main",
            "allinone-train = allinone_ros.cli.train:main",
            "allinone-train-grounder = allinone_ros.cli.train_grounder:main",
            "allinone-train-verifier = allinone_ros.cli.train_verifier:main",
            "allinone-demo = allinone_ros.ros.demo:main",
            "allinone-export-onnx = allinone_ros.cli.export_onnx:main",
            "allinone-build-engine = allinone_ros.cli.build_engine:main",
            "allinone-bench = allinone_ros.cli.bench:main",
            "tracker_node = allinone_ros.ros.tracker_node:main",
            "follow_controller = allinone_ros.ros.follow_controller_node:main",
            "drone_sim = allinone_ros.ros.drone_sim_node:main",
        ],
    },
)
