"""Functional-group classifiers of the molecular graph shared by the IR and NMR models.

Graph questions only (which class of carbonyl is this carbon, is it conjugated); no band
positions, shifts or spectra.  The bottom of ``simulate/``: imports no other simulate module.
"""

from __future__ import annotations

from rdkit import Chem

_DOUBLE = Chem.BondType.DOUBLE
_SINGLE = Chem.BondType.SINGLE


def has_double_bond_to(atom, symbols: str = "O") -> bool:
    """True when ``atom`` has a (Kekulé) double bond to an atom whose symbol is in ``symbols``."""
    return any(b.GetBondType() == _DOUBLE and b.GetOtherAtom(atom).GetSymbol() in symbols for b in atom.GetBonds())


def is_conjugated_carbonyl(mol, c) -> bool:
    """True when the carbonyl carbon ``c`` has an aromatic or sp2 carbon neighbour that is not
    itself a C=O / C=S carbon."""
    for nb in c.GetNeighbors():
        if nb.GetSymbol() == "C" and (nb.GetIsAromatic() or nb.GetHybridization() == Chem.HybridizationType.SP2):
            if not has_double_bond_to(nb, "OS"):
                return True
    return False


def _is_anhydride_oxygen(o, c) -> bool:
    """O bonded to a second carbonyl carbon besides ``c``."""
    return any(nb.GetIdx() != c.GetIdx() and has_double_bond_to(nb, "O") for nb in o.GetNeighbors())


def _single_o_class(mol, c, o) -> str:
    if o.GetTotalNumHs():
        return "acid"
    if _is_anhydride_oxygen(o, c):
        return "anhydride"
    return "lactone" if mol.GetBondBetweenAtoms(c.GetIdx(), o.GetIdx()).IsInRing() else "ester"


# sorted single-bonded heteroatom symbols of a C(=O) carbon -> class (one O: _single_o_class)
_HETERO_CLASS = {("N",): "amide", ("N", "N"): "urea", ("N", "O"): "carbamate", ("O", "O"): "carbonate"}


def carbonyl_class(mol, c) -> str:
    """Class of a C(=O) carbon: ketone, aldehyde, acid, ester, amide, ..."""
    hetero = [
        b.GetOtherAtom(c)
        for b in c.GetBonds()
        if b.GetBondType() == _SINGLE and b.GetOtherAtom(c).GetSymbol() in ("O", "N", "Cl", "S")
    ]
    syms = tuple(sorted(a.GetSymbol() for a in hetero))
    if not syms:
        return "aldehyde" if c.GetTotalNumHs() else "ketone"
    if syms == ("O",):
        return _single_o_class(mol, c, hetero[0])
    if syms in _HETERO_CLASS:
        return _HETERO_CLASS[syms]
    if "Cl" in syms:
        return "acyl_chloride"
    if "S" in syms:
        return "thioester"
    return "amide"
