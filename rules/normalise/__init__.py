"""Normalisers: raw text per canonical field to a clean value, issue codes and derived parts.

Every normaliser has the signature ``normalise_<kind>(values: pl.Series, **params) -> pl.DataFrame`` and
returns a frame of the same height with ``value`` (``pl.String``, null when unusable), ``issues``
(``pl.List(pl.String)`` of bare codes such as ``"invalid"``) and kind-specific part columns. They never raise
on data (bad parameters do raise) and compute each distinct value once. :func:`params_model` gives the pydantic
model of a kind's keyword parameters (phone and address: ``region``; date and datetime: ``order``, ``today`` …).
:func:`normalise_frame` applies them to every canonical field of a mapped frame.

A normaliser of your own (:func:`register_normaliser`) keeps the contract with :func:`map_distinct`: each distinct
value computed once (and remembered across calls in a :class:`Memo`), null, blank and placeholder cells answered
by ``map_distinct(..., placeholder="placeholder")``, a failing value an ``issues`` code (``ISSUES_DTYPE``), never an
exception. Its registration's :class:`FrameSpec` says what :func:`normalise_frame` does with its output beyond the
value, for example::

    @register_normaliser(
        "id_number",
        frame=FrameSpec(
            parts=("id_birth_date", "id_gender", "id_region_code", "id_province", "id_hash"),  # columns it adds
            reads={"birth_dates": "birth_date", "genders": "gender"},  # keyword argument <- frame column
            after=("date", "gender"),  # the kinds normalised first (those of the columns it reads)
        ),
    )
    def normalise_id_number(values: pl.Series, *, birth_dates=None, genders=None) -> pl.DataFrame: ...
"""

from __future__ import annotations

from ._address import AddressParams, normalise_address
from ._base import (
    ISSUES_DTYPE,
    NULL_MARKERS,
    STRICT_ENV,
    Memo,
    clean_text,
    collapse_whitespace,
    has_fullwidth,
    map_distinct,
    to_halfwidth,
    to_simplified,
)
from ._company import normalise_company
from ._dates import DateParams, DatetimeParams, normalise_date, normalise_datetime, wall_time_to_utc
from ._email import is_valid_address, normalise_email
from ._frame import normalise_frame
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
from ._phone import PhoneParams, is_mobile_number, is_placeholder_digits, landline_of, normalise_phone
from ._pinyin import all_words_pinyin, split_syllables, split_syllables_of
from ._registry import (
    NORMALISERS,
    PART_COLUMNS,
    FrameSpec,
    UnknownNormaliserError,
    frame_spec,
    get_normaliser,
    params_model,
    register_normaliser,
)
from ._romanised import han_readings
from ._text import normalise_text

__all__ = [
    "ID_HASH_SALT",
    "ISSUES_DTYPE",
    "NORMALISERS",
    "NULL_MARKERS",
    "PART_COLUMNS",
    "STRICT_ENV",
    "AddressParams",
    "DateParams",
    "DatetimeParams",
    "FrameSpec",
    "Memo",
    "PhoneParams",
    "UnknownNormaliserError",
    "all_words_pinyin",
    "clean_text",
    "collapse_whitespace",
    "fold_ascii",
    "formal_given_name",
    "frame_spec",
    "get_normaliser",
    "han_readings",
    "has_fullwidth",
    "hash_id_number",
    "is_mobile_number",
    "is_placeholder_digits",
    "is_valid_address",
    "landline_of",
    "map_distinct",
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
    "split_syllables_of",
    "to_halfwidth",
    "to_simplified",
    "wall_time_to_utc",
]
