"""What a parse defect means for the person reading the mail. `ParsedMessage.defects` holds our own
notes (already sentences) and the standard library's defect class names; `describe` turns the latter
into what was damaged and what it does to the ticket, keeping the name for those who search for it."""

from __future__ import annotations

_MEANINGS = {
    "StartBoundaryNotFoundDefect": "the boundary before its MIME parts is missing: the text may show raw MIME lines",
    "CloseBoundaryNotFoundDefect": "it ends before its closing MIME boundary: the mail may be cut short",
    "MultipartInvariantViolationDefect": "it says it has MIME parts, but none could be read",
    "NoBoundaryInMultipartDefect": "a multipart part names no boundary: its parts could not be separated",
    "InvalidBase64PaddingDefect": "base64 data stops in the middle: a part (an attachment?) is cut short",
    "InvalidBase64CharactersDefect": "base64 data holds characters that do not belong there: a part may be garbled",
    "InvalidBase64LengthDefect": "base64 data cannot be decoded: a part is kept as its encoded text",
    "MissingHeaderBodySeparatorDefect": "a header line is malformed: the headers may end early",
    "MisplacedEnvelopeHeaderDefect": "an envelope 'From ' line sits among the headers",
    "FirstHeaderLineIsContinuationDefect": "the first header line is a continuation line",
    "InvalidMultipartContentTransferEncodingDefect": "a multipart part declares a transfer encoding",
    "InvalidHeaderDefect": "a header is malformed",
    "NonASCIILocalPartDefect": "an address has non-ASCII characters before the @",
}


def describe(defect: str) -> str:
    """A sentence for one entry of `ParsedMessage.defects`."""
    name, _, detail = defect.partition(":")
    meaning = _MEANINGS.get(name.strip())
    if meaning is None:
        return defect
    return f"{meaning} ({defect.strip()})" if detail.strip() else f"{meaning} ({name.strip()})"
