"""All-in-One vision-language tracker for ROS 2."""
__version__ = "0.1.0"
