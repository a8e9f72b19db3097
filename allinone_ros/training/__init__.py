"""Training the All-in-One tracker (pure torch, no ROS).

* :mod:`.config` -- the experiment config (frozen dataclasses, one YAML per experiment);
* :mod:`.data` -- seeded template/search pairs from datasets and synthetic sets, batched with token ids;
* :mod:`.losses` -- the objective of the architecture spec (GIoU + L1 + focal + CMA + IMA) and the
  candidate-elimination keep-rate schedule;
* :mod:`.forward` -- the training forward (what DDP wraps) and the frozen text-feature cache;
* :mod:`.optim` -- AdamW with the backbone's scaled learning rate, the step schedule;
* :mod:`.state` -- epoch checkpoints for exact resume; :mod:`.finetune` -- initialisation from
  checkpoints whose keys do not all fit, with every skipped key reported;
* :mod:`.trainer` -- the loop (mixed precision on CUDA, ``torchrun`` DDP, TensorBoard, tqdm);
  :mod:`.distributed`, :mod:`.tb` -- helpers.

The command line is ``allinone-train`` (:mod:`allinone_ros.cli.train`).
"""
