"""The partner portal's pages, under /portal/ (healix/urls.py)."""

from django.urls import path

from portal.views import deliveries, endpoints, reference, session

app_name = "portal"

urlpatterns = [
    path("", session.home, name="home"),
    path("start/<str:token>/", session.start, name="start"),
    path("leave/", session.leave, name="leave"),
    path("endpoints/", endpoints.endpoint_list, name="endpoints"),
    path("endpoints/new/", endpoints.new, name="endpoint-new"),
    path("endpoints/create/", endpoints.create, name="endpoint-create"),
    path("endpoints/<str:pk>/", endpoints.detail, name="endpoint"),
    path("endpoints/<str:pk>/edit/", endpoints.edit, name="endpoint-edit"),
    path("endpoints/<str:pk>/rotate-secret/", endpoints.rotate, name="endpoint-rotate"),
    path("endpoints/<str:pk>/test/", endpoints.send_test, name="endpoint-test"),
    path("endpoints/<str:pk>/replay/", endpoints.replay, name="endpoint-replay"),
    path("endpoints/<str:pk>/delete/", endpoints.delete, name="endpoint-delete"),
    path("deliveries/<str:pk>/", deliveries.delivery, name="delivery"),
    path("deliveries/<str:pk>/retry/", deliveries.retry, name="delivery-retry"),
    path("events/", reference.event_catalog, name="catalog"),
    path("inbound/", reference.inbound, name="inbound"),
    path("inbound/try/", reference.try_payload, name="inbound-try"),
    path("inbound/<str:pk>/", reference.inbound_event, name="inbound-event"),
    path("bus/", reference.bus, name="bus"),
]
