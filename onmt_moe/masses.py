"""Physical masses shared by every track, in Da (CODATA 2018).  Pure Python: imports nothing.

The one definition of the proton mass: the molecule simulator ([M+H]+ / [M-H]- precursors and
fragments), the n-best re-ranker (precursor consistency) and the glycan track (deprotonated ions,
neutral-loss tokens, charge inference) all read it from here.
"""

H_ATOM = 1.00782503223  # 1H atom (proton + electron)
ELECTRON = 0.00054857990946
PROTON = H_ATOM - ELECTRON  # 1.00727646688: [M+H]+ = M + PROTON, [M-H]- = M - PROTON
# 13C - 12C: the spacing of a singly charged ion's isotope peaks in m/z
C13_SPACING = 1.003355
