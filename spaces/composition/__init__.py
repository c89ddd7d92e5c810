"""Component composition [COMPOSE20]: the ``composition`` space (:mod:`.space`) over a
fine-tuned BERT (:mod:`.base`), decomposed into components whose architecture parameters
:mod:`.layout` places, computed by connector units (:mod:`.network`), extracted as really
smaller models (:mod:`.extraction`), with each kind of component's cost profiled on the device
(:mod:`.profile`). The one-shot strategies ``do`` and ``sdo`` search it.
"""
