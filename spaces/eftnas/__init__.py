"""EFTNAS [EFTNAS24]: the ``eftnas`` space (:mod:`.space`) over a super-network built by
``nasbench-txf eftnas build`` (:mod:`.pipeline`, with its request in :mod:`.request`, its
folder in :mod:`.folder`, its batches in :mod:`.data` and the model call in :mod:`.model`),
and the stages that build it, one module each, in the order they run:

- :mod:`.base`: the pre-trained BERT-family classifier the super-network is cut from.
- :mod:`.importance`: movement importance accumulated during fine-tuning [EFTNAS24 §3.1, Eq. 3].
- :mod:`.generation`: the search space from target complexities [EFTNAS24 §3.2, Alg. 1],
  measured by :mod:`.complexity`.
- :mod:`.reorder`: first-order weight reordering, most important heads and channels first
  [EFTNAS24 §3.3].
- :mod:`.elastic`: the weight-sharing super-network, its active subnetwork and extracted
  standalone subnetworks [EFTNAS24 §3.3, Fig. 2].
- :mod:`.train`: super-network training with the sandwich rule and knowledge distillation
  [EFTNAS24 §3.3, §4, Eqs. 4-6].

:mod:`.config` holds what they share: an encoder's sizes and a subnetwork's per-layer heads
and feed-forward widths.
"""
