"""The shop's Celery tasks. `send_receipt` is the one the guide moves to Node: the TS service in
node/receipts.ts registers a task of the same name, with the same arguments and the same return
shape, and the routes in settings.py send it to its own queue on both sides."""
from celery import shared_task


@shared_task(name="shop.tasks.send_receipt")
def send_receipt(order_id, email):
    return {"order": order_id, "sent_to": email, "by": "python"}


@shared_task(name="shop.tasks.add")
def add(x, y):
    return x + y


@shared_task(name="shop.tasks.total")
def total(values):
    return sum(values)


@shared_task(name="shop.tasks.fail")
def fail(message):
    raise ValueError(message)
