from django.apps import AppConfig


class HaConfig(AppConfig):
    """The HA app; its system checks are registered when it is ready."""

    name = "hacontrol.ha"
    label = "ha"

    def ready(self) -> None:
        from hacontrol.ha import checks  # noqa: F401 - registers them
