from django.urls import path

from sitaware.assessment import views_dashboard

app_name = "assessment"
urlpatterns: list = [
    path("dashboards/", views_dashboard.dashboard_list, name="dashboards"),
    path("dashboards/<uuid:dashboard_id>/", views_dashboard.dashboard_show, name="dashboard"),
    path("dashboards/<uuid:dashboard_id>/build", views_dashboard.dashboard_build, name="dashboard-build"),
    path("dashboards/<uuid:dashboard_id>/charts/<int:widget_id>", views_dashboard.widget_action,
         name="dashboard-widget"),
    path("values/<int:value_id>/", views_dashboard.value_detail, name="value"),
]
