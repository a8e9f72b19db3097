"""All-in-One vision-language tracker for ROS 2."""
__version__ = "0.1.0"

# A colcon build installs the generated messages (allinone_ros.msg) into a second
# allinone_ros directory (install/.../site-packages). When this source tree comes first
# on sys.path (e.g. `python -m pytest` from the repository root), look there too.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
