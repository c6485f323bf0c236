"""Procedural class sounds of the bias lab, with per-clip variation in pitch, rhythm and timbre.

Each generator maps ``(rng, pitch range, duration, rate)`` to an un-normalised ``float64 [N]`` waveform;
the world then brings it to the loudness its split draws. Event times, pitches and timbre parameters all
come from the clip's generator, so the same seed gives the same samples.

| class  | sound |
|--------|-------|
| piano  | notes of harmonic partials (amplitude 1/k) with exponential decay, pitches from a major scale |
| guitar | Karplus-Strong plucked string (a noise burst through a damped delay line) |
| drum   | pitched thump (sine gliding down an octave) plus a short noise burst, at a steady tempo |
| car    | low harmonic engine rumble with slow rpm wander, plus low-passed noise |
| dog    | barks: noise and a pulse train through two formant resonators, short envelopes |
| man    | syllables: a glottal pulse train with vibrato through vowel formants |
| bird   | FM chirps sweeping within 2-6 kHz, in short bursts |
| bell   | inharmonic partials (bell ratios) with long decay, struck a few times |
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal

__all__ = ["SOUND_GENERATORS", "generate_sound"]

SoundFn = Callable[[np.random.Generator, tuple[float, float], float, int], np.ndarray]


def _time(duration_s: float, rate: int) -> np.ndarray:
    return np.arange(int(round(duration_s * rate))) / rate


def _place(out: np.ndarray, event: np.ndarray, start: int) -> None:
    end = min(out.shape[0], start + event.shape[0])
    if start < end:
        out[start:end] += event[: end - start]


def _resonate(x: np.ndarray, centre_hz: float, bandwidth_hz: float, rate: int) -> np.ndarray:
    """Second-order resonator (band-pass) at ``centre_hz``."""
    r = np.exp(-np.pi * bandwidth_hz / rate)
    theta = 2 * np.pi * centre_hz / rate
    return signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def piano(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    root = rng.uniform(*pitch)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    num_notes = int(rng.integers(4, 9))
    starts = np.sort(rng.uniform(0, duration_s - 0.3, num_notes))
    partials = int(rng.integers(5, 9))
    brightness = rng.uniform(0.8, 1.4)
    for start in starts:
        f0 = root * 2 ** (rng.choice(scale) / 12)
        decay = rng.uniform(0.35, 0.9)
        t = _time(min(1.5, duration_s - start), rate)
        note = sum((1 / k**brightness) * np.sin(2 * np.pi * f0 * k * t) * np.exp(-t * k**0.5 / decay)
                   for k in range(1, partials + 1) if f0 * k < rate / 2)
        attack = np.minimum(1.0, t / 0.005)
        _place(out, note * attack, int(start * rate))
    return out


def guitar(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    num_plucks = int(rng.integers(3, 7))
    starts = np.sort(rng.uniform(0, duration_s - 0.4, num_plucks))
    damping = rng.uniform(0.990, 0.997)
    for start in starts:
        period = max(2, int(round(rate / rng.uniform(*pitch))))
        length = int(min(1.5, duration_s - start) * rate)
        # Karplus-Strong as an IIR filter: y[n] = x[n] + d * (y[n-P] + y[n-P-1]) / 2, x = one period of noise
        excitation = np.zeros(length)
        excitation[:period] = rng.uniform(-1, 1, period)
        feedback = np.zeros(period + 2)
        feedback[0], feedback[period], feedback[period + 1] = 1.0, -damping / 2, -damping / 2
        _place(out, signal.lfilter([1.0], feedback, excitation), int(start * rate))
    return out


def drum(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    interval = 60.0 / rng.uniform(90, 160)
    f_start = rng.uniform(*pitch) * 2
    decay = rng.uniform(0.08, 0.2)
    noise_level = rng.uniform(0.2, 0.6)
    t = _time(0.5, rate)
    freq = f_start * np.exp(-t / 0.08) * 0.5 + f_start * 0.5  # glide down about an octave
    thump = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / decay)
    offset = rng.uniform(0, interval)
    for start in np.arange(offset, duration_s - 0.05, interval):
        burst = rng.standard_normal(t.shape[0]) * np.exp(-t / 0.03) * noise_level
        accent = rng.uniform(0.7, 1.0)
        _place(out, accent * (thump + burst), int(start * rate))
    return out


def car(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    t = _time(duration_s, rate)
    f0 = rng.uniform(*pitch)
    wander = 1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0 * wander) / rate
    harmonics = sum(rng.uniform(0.3, 1.0) / k * np.sin(k * phase) for k in range(1, 11))
    rumble = signal.lfilter(*signal.butter(2, 300 / (rate / 2)), rng.standard_normal(t.shape[0]))
    return harmonics + rng.uniform(0.5, 1.5) * rumble


def dog(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    num_barks = int(rng.integers(3, 8))
    starts = np.sort(rng.uniform(0, duration_s - 0.3, num_barks))
    f1, f2 = rng.uniform(450, 700), rng.uniform(1200, 1800)
    for start in starts:
        length = rng.uniform(0.12, 0.25)
        t = _time(length, rate)
        f0 = rng.uniform(*pitch)
        pulses = signal.sawtooth(2 * np.pi * f0 * t)
        source = 0.6 * pulses + 0.8 * rng.standard_normal(t.shape[0])
        voiced = _resonate(source, f1, 120, rate) + 0.7 * _resonate(source, f2, 200, rate)
        envelope = np.sin(np.pi * t / length) ** 0.5 * np.exp(-t / (length * 0.6))
        _place(out, voiced * envelope, int(start * rate))
    return out


_VOWELS = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840))  # a, i, u, e, o (F1, F2)


def man(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    t = _time(duration_s, rate)
    f0 = rng.uniform(*pitch) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(4, 6) * t))
    phase = np.cumsum(f0) / rate
    glottal = np.diff(np.floor(phase), prepend=0.0)  # one impulse per period
    glottal = signal.lfilter([1.0], [1, -0.95], glottal)  # spectral tilt of the glottal source
    out = np.zeros_like(t)
    pos = rng.uniform(0, 0.3)
    while pos < duration_s - 0.15:
        length = rng.uniform(0.15, 0.35)
        a, b = int(pos * rate), int(min(duration_s, pos + length) * rate)
        f1, f2 = _VOWELS[int(rng.integers(len(_VOWELS)))]
        segment = _resonate(glottal[a:b], f1, 90, rate) + 0.5 * _resonate(glottal[a:b], f2, 110, rate)
        window = np.hanning(b - a)
        out[a:b] += segment * window
        pos += length + rng.uniform(0.05, 0.25)
    return out


def bird(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    centre = rng.uniform(pitch[0] + 500, pitch[1] - 1000)
    pos = rng.uniform(0, 0.4)
    while pos < duration_s - 0.1:
        for _ in range(int(rng.integers(2, 6))):  # a burst of chirps
            length = rng.uniform(0.04, 0.12)
            t = _time(length, rate)
            sweep = centre * (1 + rng.uniform(-0.3, 0.3) * t / length)
            modulation = rng.uniform(100, 600) * np.sin(2 * np.pi * rng.uniform(30, 80) * t)
            freq = np.clip(sweep + modulation, pitch[0], pitch[1])
            chirp = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.sin(np.pi * t / length) ** 2
            _place(out, chirp, int(pos * rate))
            pos += length + rng.uniform(0.02, 0.06)
        pos += rng.uniform(0.3, 0.9)
    return out


_BELL_RATIOS = np.array([1.0, 1.19, 1.56, 2.0, 2.51, 2.66, 3.01, 4.1])  # bell partials above the strike tone


def bell(rng: np.random.Generator, pitch: tuple[float, float], duration_s: float, rate: int) -> np.ndarray:
    out = np.zeros(int(round(duration_s * rate)))
    f0 = rng.uniform(*pitch)
    ratios = _BELL_RATIOS * (1 + rng.uniform(-0.01, 0.01, _BELL_RATIOS.shape[0]))
    amplitudes = rng.uniform(0.4, 1.0, ratios.shape[0])
    decays = rng.uniform(1.2, 3.0) / (1 + 0.5 * np.arange(ratios.shape[0]))
    strikes = np.sort(rng.uniform(0, duration_s - 0.5, int(rng.integers(1, 4))))
    t = _time(duration_s - strikes[0], rate)
    tone = sum(a * np.sin(2 * np.pi * f0 * r * t) * np.exp(-t / d)
               for a, r, d in zip(amplitudes, ratios, decays, strict=True) if f0 * r < rate / 2)
    tone = tone * np.minimum(1.0, t / 0.002)
    for start in strikes:  # the same strike, rendered once, placed at each onset
        _place(out, tone, int(start * rate))
    return out


SOUND_GENERATORS: dict[str, SoundFn] = {
    "piano": piano, "guitar": guitar, "drum": drum, "car": car,
    "dog": dog, "man": man, "bird": bird, "bell": bell,
}  # fmt: skip


def generate_sound(
    class_name: str, rng: np.random.Generator, pitch_hz: tuple[float, float], duration_s: float, rate: int
) -> np.ndarray:
    """``float64 [round(duration_s * rate)]`` raw (un-normalised) sound of ``class_name``."""
    try:
        fn = SOUND_GENERATORS[class_name]
    except KeyError:
        raise KeyError(f"no sound generator for class {class_name!r}") from None
    x = fn(rng, pitch_hz, duration_s, rate)
    x = x - x.mean()
    # Soft limiting (tanh at drive 3) lowers every class's crest factor so that sources stay below full
    # scale up to about -12 LUFS; the timbre changes little and the classes stay distinct.
    peak = np.abs(x).max()
    return np.tanh(_LIMITER_DRIVE * x / peak) if peak > 0 else x


_LIMITER_DRIVE = 3.0
