from django.urls import path

from sitaware.assessment import views_dashboard, views_framework

app_name = "assessment"
urlpatterns: list = [
    path("dashboards/", views_dashboard.dashboard_list, name="dashboards"),
    path("dashboards/<uuid:dashboard_id>/", views_dashboard.dashboard_show, name="dashboard"),
    path("dashboards/<uuid:dashboard_id>/build", views_dashboard.dashboard_build, name="dashboard-build"),
    path("dashboards/<uuid:dashboard_id>/charts/<int:widget_id>", views_dashboard.widget_action,
         name="dashboard-widget"),
    path("values/<int:value_id>/", views_dashboard.value_detail, name="value"),
    path("frameworks/", views_framework.framework_list, name="frameworks"),
    path("frameworks/<uuid:framework_id>/", views_framework.framework_show, name="framework"),
    path("frameworks/<uuid:framework_id>/report.<str:fmt>", views_framework.framework_report,
         name="framework-report"),
    path("frameworks/<uuid:framework_id>/indicators/new", views_framework.indicator_new, name="indicator-new"),
    path("indicators/<uuid:indicator_id>/", views_framework.indicator_show, name="indicator"),
]
