"""The small base of the composition study (the role MiniBERT plays in [COMPOSE20 §5.4]): MiniLM-L6
cut to three layers (its layers 1, 3 and 5, as DistilBERT initialises a student from every other
teacher layer), written as a Hugging Face model folder with MiniLM's tokenizer. `run.sh` fine-tunes
it on SST-2 with `nasbench-txf eftnas build` and searches it.

    python builds/composition/minilm-l3/make_base.py builds/composition/minilm-l3/base
"""

import shutil
import sys
from pathlib import Path

from transformers import AutoModel

from nasbench_txf.spaces.eftnas.base import default_base_dir

KEEP = (0, 2, 4)

source, out = default_base_dir(), Path(sys.argv[1])
model = AutoModel.from_pretrained(source, local_files_only=True, use_safetensors=True)
model.encoder.layer = model.encoder.layer.__class__([model.encoder.layer[i] for i in KEEP])
model.config.num_hidden_layers = len(KEEP)
model.save_pretrained(out, safe_serialization=True)
for file in source.iterdir():
    if file.is_file() and ("token" in file.name or file.name in ("vocab.txt", "special_tokens_map.json")):
        shutil.copyfile(file, out / file.name)
print(f"wrote {out}: {len(KEEP)} layers of MiniLM-L6 (layers {', '.join(str(i + 1) for i in KEEP)})")
