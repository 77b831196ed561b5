def test_the_home_page_invites_sign_in_and_signing_in_shows_the_membership(client, world):
    page = client.get("/")
    assert page.status_code == 200 and b"/accounts/login/" in page.content
    response = client.post("/accounts/login/", {"username": "ana", "password": "correct horse battery staple"})
    assert response.status_code == 302
    page = client.get("/")
    assert b"Signed in as ana" in page.content and b"UN Police" in page.content


def test_a_wrong_password_is_refused(client, world):
    response = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert response.status_code == 200 and b"correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_account_for_a_while_even_with_the_right_password(client, world, settings):
    import datetime as dt

    from django.utils import timezone

    from sitaware.core.models import LoginFailure

    settings.SITAWARE_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "ana", "password": "wrong"}).status_code == 200
    locked = client.post("/accounts/login/", {"username": "ANA", "password": "correct horse battery staple"})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked by ana's failures (the per-address bar is higher).
    right = "correct horse battery staple"
    assert client.post("/accounts/login/", {"username": "sam", "password": right}).status_code == 302
    client.logout()
    french = client.post("/accounts/login/", {"username": "ana", "password": "x"}, headers={"Accept-Language": "fr"})
    assert french.status_code == 429 and "échecs de connexion".encode() in french.content
    # Once the lock period has passed, the right password works and clears the account's failures.
    LoginFailure.objects.update(at=timezone.now() - dt.timedelta(seconds=settings.SITAWARE_LOGIN_LOCK_SECONDS + 1))
    assert client.post("/accounts/login/", {"username": "ana", "password": right}).status_code == 302
    assert not LoginFailure.objects.filter(username="ana").exists()


def test_many_failures_from_one_address_lock_it(client, world, settings):
    settings.SITAWARE_LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    for name in ("a1", "a2", "a3", "a4"):
        client.post("/accounts/login/", {"username": name, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "sam", "password": "correct horse battery staple"})
    assert response.status_code == 429


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
