from django.urls import path

from sitaware.alerts import views

app_name = "alerts"
urlpatterns: list = [
    path("feed.atom", views.atom_feed, name="feed"),
    path("<str:alert_id>/cap.xml", views.cap_message, name="cap"),
]
