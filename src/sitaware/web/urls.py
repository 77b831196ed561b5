from django.urls import path

from sitaware.web import views, views_dashboard, views_form, views_review

app_name = "web"
urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("map/data", views.map_data, name="map-data"),
    path("map/basemap.geojson", views.basemap, name="basemap"),
    path("map/records/<str:record_id>/recommendations", views.record_recommendations,
         name="record-recommendations"),
    path("live/stream", views.live_stream, name="live-stream"),
    path("records/", views_dashboard.record_list, name="records"),
    path("records/new", views_form.record_new, name="record-new"),
    path("records/<uuid:record_id>/edit", views_form.record_edit, name="record-edit"),
    path("review/", views_review.review_queue, name="review"),
    path("review/<uuid:recommendation_id>/decide", views_review.review_decide, name="review-decide"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
]
