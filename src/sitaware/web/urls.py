from django.urls import path

from sitaware.web import (
    views,
    views_dashboard,
    views_form,
    views_offline,
    views_plan,
    views_plan_new,
    views_plan_proposal,
    views_review,
    views_riskmap,
)

app_name = "web"
urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("map/data", views.map_data, name="map-data"),
    path("map/basemap.geojson", views.basemap, name="basemap"),
    path("map/admin1.geojson", views.admin1_lines, name="basemap-admin1"),
    path("map/tiles/<int:z>/<int:x>/<int:y>.<str:ext>", views.tile, name="basemap-tile"),
    path("map/records/<str:record_id>/recommendations", views.record_recommendations,
         name="record-recommendations"),
    path("live/stream", views.live_stream, name="live-stream"),
    path("records/", views_dashboard.record_list, name="records"),
    path("records/new", views_form.record_new, name="record-new"),
    path("records/<uuid:record_id>/edit", views_form.record_edit, name="record-edit"),
    path("review/", views_review.review_queue, name="review"),
    path("review/<uuid:recommendation_id>/decide", views_review.review_decide, name="review-decide"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("sw.js", views_offline.service_worker, name="service-worker"),
    path("risk-maps/", views_riskmap.risk_maps, name="risk-maps"),
    path("risk-maps/<uuid:risk_map_id>/", views_riskmap.risk_map, name="risk-map"),
    path("plans/", views_plan.plans, name="plans"),
    path("plans/new", views_plan_new.plan_new, name="plan-new"),
    path("plans/travel", views_plan_new.plan_travel, name="plan-travel"),
    path("plans/proposals/<uuid:proposal_id>/", views_plan_proposal.proposal, name="plan-proposal"),
    path("plans/<uuid:plan_id>/", views_plan.plan_map, name="plan"),
    path("plans/<uuid:plan_id>/edit", views_plan.plan_edit, name="plan-edit"),
]
