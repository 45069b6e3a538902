"""The main job: the whole lifecycle locally on the embedded default (`mlops demo run`)."""
