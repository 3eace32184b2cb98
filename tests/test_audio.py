"""Audio loading: mono mixdown, resampling, length, and errors that name the file."""

import numpy as np
import pytest
from conftest import write_wav

from mtlsed.data.audio import AudioError, load_audio


def test_stereo_is_mixed_down_and_length_fixed(tmp_path):
    sr = 8000
    left, right = np.full(sr, 0.5), np.full(sr, -0.25)
    path = write_wav(tmp_path / "st.wav", np.stack([left, right], axis=1), sr)
    y = load_audio(path, sr)
    assert y.dtype == np.float32 and y.shape == (sr,)
    np.testing.assert_allclose(y, 0.125, atol=1e-4)  # (0.5 - 0.25) / 2
    padded = load_audio(path, sr, duration=2.5)
    assert padded.shape == (20000,) and np.all(padded[sr:] == 0)
    assert load_audio(path, sr, duration=0.5).shape == (4000,)


def test_resampling_keeps_the_frequency(tmp_path):
    sr_in, sr_out, f = 44100, 16000, 1000.0
    t = np.arange(sr_in) / sr_in
    path = write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * f * t), sr_in)
    y = load_audio(path, sr_out)
    assert len(y) == sr_out
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * sr_out / len(y)
    assert abs(peak_hz - f) <= 1.0
    assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_bad_files_raise_naming_the_file(tmp_path):
    with pytest.raises(AudioError, match=r"missing.wav: audio file not found"):
        load_audio(tmp_path / "missing.wav", 16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 3)
    with pytest.raises(AudioError, match=r"corrupt.wav: cannot read audio"):
        load_audio(corrupt, 16000)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match=r"empty.wav: empty audio file"):
        load_audio(empty, 16000)
    nan = tmp_path / "nan.wav"
    import soundfile as sf

    sf.write(str(nan), np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan.wav: corrupt audio \(non-finite samples\)"):
        load_audio(nan, 16000)
