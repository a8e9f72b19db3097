"""Language encoders: the released path ignores the sentence, the pretrained one does not."""
import pytest
import torch

from allinone_ros.model import build_model, tiny_config
from allinone_ros.model.language import SentenceTokenizer, TextEncoderError
from allinone_ros.tracker import Tracker

SENTENCES = ["the white SUV behind the truck", "a red kite in the sky", "person"]


def test_tokenizer_is_bert_uncased_wordpiece_padded_to_40():
    ids, mask = SentenceTokenizer()(["Follow the White SUV"])
    assert ids.shape == (1, 40) and mask.shape == (1, 40)
    # bert-base-uncased ids: [CLS]=101, follow=3582, the=1996, white=2317, suv=15620, [SEP]=102
    assert ids[0, :6].tolist() == [101, 3582, 1996, 2317, 15620, 102]
    assert ids[0, 6:].eq(0).all() and mask[0].sum() == 6


def test_long_sentences_are_truncated_with_a_warning(caplog):
    ids, _ = SentenceTokenizer()(["word " * 2000])
    assert ids.shape == (1, 40) and int(ids[0, -1]) == 102
    assert "only the first 40" in caplog.text


def test_official_path_gives_the_same_vector_for_every_sentence():
    model = build_model(tiny_config())
    torch.nn.init.normal_(model.language_embeddings.word_embeddings.weight)
    tok = SentenceTokenizer()
    vecs = model.encode_text(*tok(SENTENCES))
    assert torch.allclose(vecs[0], vecs[1]) and torch.allclose(vecs[0], vecs[2])
    # ...but an all-padding input (no [CLS]) does differ, as the spec says.
    pad = model.encode_text(torch.zeros(1, 40, dtype=torch.long), torch.zeros(1, 40, dtype=torch.long))
    assert not torch.allclose(pad[0], vecs[0])


def test_pretrained_path_gives_different_vectors():
    model = build_model(tiny_config(language_encoder="pretrained", text_dim=384))
    vecs = model.encode_text(*SentenceTokenizer()(SENTENCES))
    assert vecs.shape == (3, 64)
    torch.testing.assert_close(vecs.norm(dim=-1), torch.ones(3))
    assert (vecs[0] - vecs[1]).abs().max() > 1e-3 and (vecs[0] - vecs[2]).abs().max() > 1e-3


def test_sentence_vector_computed_once_per_sentence():
    model = build_model(tiny_config(language_encoder="pretrained", text_dim=384))
    calls = []
    model.text_encoder.register_forward_hook(lambda *a: calls.append(1))
    tracker = Tracker(model)
    a = tracker.sentence_vector("the red car")
    b = tracker.sentence_vector("the red car")
    assert a is b and len(calls) == 1
    tracker.sentence_vector("the blue car")
    assert len(calls) == 2


def test_missing_text_model_directory_is_named(tmp_path):
    with pytest.raises(TextEncoderError, match=str(tmp_path)):
        build_model(tiny_config(language_encoder="pretrained", text_dim=384, text_model_dir=str(tmp_path)))
