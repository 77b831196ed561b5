from django.urls import path

from sitaware.web import views

app_name = "web"
urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("map/data", views.map_data, name="map-data"),
    path("map/basemap.geojson", views.basemap, name="basemap"),
    path("map/records/<str:record_id>/recommendations", views.record_recommendations,
         name="record-recommendations"),
    path("live/stream", views.live_stream, name="live-stream"),
]
