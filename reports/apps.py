from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from accounts.signals import shop_data_reset
        from reports.services import reports_forget

        # The closed days hold sums by order, product and customer ids that a reset gives to others.
        shop_data_reset.connect(reports_forget, dispatch_uid="reports_forget")
