"""Training-side code for the All-in-One tracker: losses and schedules (pure torch, no ROS).

See ``allinone_ros.training.losses`` for the objective described in the architecture spec
("Training objective"): GIoU + L1 box losses, a CenterNet-style focal loss on a Gaussian
centre heatmap, the NT-Xent multi-modal alignment losses (CMA, IMA) and the
candidate-elimination keep-rate schedule.
"""
