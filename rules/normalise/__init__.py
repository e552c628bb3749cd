"""Normalisers: raw text per canonical field to a clean value, issue codes and derived parts.

Every normaliser has the signature ``normalise_<kind>(values: pl.Series, **params) -> pl.DataFrame`` and
returns a frame of the same height with ``value`` (``pl.String``, null when unusable), ``issues``
(``pl.List(pl.String)`` of bare codes such as ``"invalid"``) and kind-specific part columns. They never raise
on data (bad parameters do raise) and compute each distinct value once. :func:`params_model` gives the pydantic
model of a kind's keyword parameters (phone and address: ``region``; date and datetime: ``order``, ``today`` …).
:func:`normalise_frame` applies them to every canonical field of a mapped frame.
"""

from __future__ import annotations

from ._address import AddressParams, normalise_address
from ._base import NULL_MARKERS, clean_text, collapse_whitespace, has_fullwidth, to_halfwidth
from ._company import normalise_company
from ._dates import DateParams, DatetimeParams, normalise_date, normalise_datetime, wall_time_to_utc
from ._email import normalise_email
from ._frame import PART_COLUMNS, normalise_frame
from ._gender import normalise_gender
from ._id_number import ID_HASH_SALT, hash_id_number, mask_id_number, normalise_id_number
from ._name import (
    fold_ascii,
    formal_given_name,
    nickname_pairs,
    normalise_name,
    normalise_name_parts,
    person_name_in_company,
    soundex,
)
from ._phone import PhoneParams, is_mobile_number, landline_of, normalise_phone
from ._pinyin import split_syllables
from ._registry import NORMALISERS, UnknownNormaliserError, get_normaliser, params_model, register_normaliser
from ._text import normalise_text

__all__ = [
    "ID_HASH_SALT",
    "NORMALISERS",
    "NULL_MARKERS",
    "PART_COLUMNS",
    "AddressParams",
    "DateParams",
    "DatetimeParams",
    "PhoneParams",
    "UnknownNormaliserError",
    "clean_text",
    "collapse_whitespace",
    "fold_ascii",
    "formal_given_name",
    "get_normaliser",
    "has_fullwidth",
    "hash_id_number",
    "is_mobile_number",
    "landline_of",
    "mask_id_number",
    "nickname_pairs",
    "normalise_address",
    "normalise_company",
    "normalise_date",
    "normalise_datetime",
    "normalise_email",
    "normalise_frame",
    "normalise_gender",
    "normalise_id_number",
    "normalise_name",
    "normalise_name_parts",
    "normalise_phone",
    "normalise_text",
    "params_model",
    "person_name_in_company",
    "register_normaliser",
    "soundex",
    "split_syllables",
    "to_halfwidth",
    "wall_time_to_utc",
]
