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
