"""Tracking metrics, result files and reports (no ROS imports)."""
