"""Reference renderers (numpy) for the pedal types pedalboard does not have as one plugin.

Each module is one pedal type and exposes a pure function
``fx(x: np.ndarray (C, T) float32, sample_rate: float, **knobs) -> np.ndarray (C, T) float32``
with the knobs in real units under the catalog's names, output the same length as the input.
These are the ground truth the torch proxies (``ddspfx.proxies.<name>``) must match, so they
are written for clarity and float64 accuracy, not speed:

- ``tremolo``: an amplitude LFO whose shape runs from sine to near-square.
- ``flanger``: pedalboard's ``Chorus`` with a short centre delay (pedalboard is the reference).
- ``fuzz``: biased hard clipping, a DC blocker and a one-pole tone lowpass.
- ``octave``: a delay-line pitch shifter an octave down and up, mixed with the dry; also an
  alternative rendering through pedalboard's Rubber Band ``PitchShift`` (training diversity).

Every LFO or grain clock starts at phase 0 at the clip's first sample, like pedalboard's
``reset=True``, so a render is a deterministic function of the clip and the knobs.
"""
