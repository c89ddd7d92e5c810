"""Training a model on a task: GLUE-format tasks, tokenizers, the recipe and loop, task
metrics. The one place in the suite that trains."""
