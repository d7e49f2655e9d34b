from acct.tests.matrix import CLINICAL, expect

BOARD = "/api/patients/{board_patient}/board"


def a_board_patient(request) -> str:
    """A patient of the OpenEMR stand-in, fresh in the cache, and the PDF's font in place."""
    from board.tests.fonts import use_font

    use_font(request.getfixturevalue("settings"))
    from emr.tests.permission_matrix import a_cached_patient

    return a_cached_patient(request)


PLACEHOLDERS = {"board_patient": a_board_patient}

ENTRIES = {
    "api/patients/<str:puuid>/board": [("get", BOARD, None, CLINICAL)],
    "api/patients/<str:puuid>/board.pdf": [("get", f"{BOARD}.pdf", None, CLINICAL)],
    # sharing writes to the hospital's FHIR server: doctors and radiology staff (queued: 202)
    "api/patients/<str:puuid>/board/share": [
        ("post", f"{BOARD}/share", None, expect(403, anonymous=401, DOCTOR=202, RIB=202))
    ],
}
