"""ROS 2 side of allinone_ros: image conversion and the tracker node.

Importing this package needs nothing from ROS. Modules that talk to a ROS graph
(the node) import ``rclpy`` themselves; :mod:`allinone_ros.ros.image_conversion`
works on any object shaped like ``sensor_msgs/Image`` and imports
``sensor_msgs`` only when it has to build a message.

The generated message classes live in :mod:`allinone_ros.msg`, which exists only
after ``scripts/setup_ros.sh`` (``colcon build``) and ``source scripts/ros_env.sh``.
"""
