def test_the_home_page_invites_sign_in_and_signing_in_shows_the_membership(client, world):
    page = client.get("/")
    assert page.status_code == 200 and b"/accounts/login/" in page.content
    response = client.post("/accounts/login/", {"username": "ana", "password": "correct horse battery staple"})
    assert response.status_code == 302
    page = client.get("/")
    assert b"Signed in as ana" in page.content and b"UN Police" in page.content


def test_a_wrong_password_is_refused(client, world):
    response = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert response.status_code == 200 and b"did not match" in response.content
    assert "_auth_user_id" not in client.session


def test_the_pages_speak_french_when_asked(client, world):
    page = client.get("/", headers={"Accept-Language": "fr"})
    assert b"Connectez-vous pour voir les fiches" in page.content
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    page = client.get("/accounts/login/")
    assert b"Mot de passe" in page.content and b'lang="fr"' in page.content


def test_every_french_message_is_translated():
    from pathlib import Path

    import sitaware

    po = (Path(sitaware.__file__).parent / "locale/fr/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    untranslated = [e for e in entries if 'msgstr ""' in e and "msgstr \"\"\n\"" not in e]
    assert not untranslated, untranslated[:3]
    assert (Path(sitaware.__file__).parent / "locale/fr/LC_MESSAGES/django.mo").exists()
