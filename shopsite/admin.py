"""What the apps' admin pages share."""

from django.contrib import admin


class GrowingTableAdmin(admin.ModelAdmin):
    """The changelist of a table that grows with the shop (products, customers, orders, report rows).

    Django counts the whole table on every page to show "N of M"; on a big table that costs more
    than it tells, and the count of the filtered rows is enough.
    """

    show_full_result_count = False
