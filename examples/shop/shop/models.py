"""SQLAlchemy 2.0 declarative models of the shop, as of the head revision.

These must match what ``migrations/versions`` builds: ``alembic check`` (autogenerate
against an upgraded database) reports no differences. Constraint and index names are
spelled out so the migrations can refer to them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# bigint keys everywhere; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntKey, sa.Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    # Was ``name`` until revision 0003 (SHOP-118).
    full_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    phone: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )

    orders: Mapped[list[Order]] = relationship(back_populates="user")

    __table_args__ = (sa.UniqueConstraint("email", name="uq_users_email"),)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigIntKey, sa.Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    price_cents: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # Added in revision 0005 (SHOP-137), unique since 0006.
    sku: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )

    __table_args__ = (sa.Index("ix_products_sku", "sku", unique=True),)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigIntKey, sa.Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("users.id", name="fk_orders_user_id"), nullable=False
    )
    # Order total in currency units; numeric(12, 2) since revision 0004 (SHOP-126).
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, server_default=sa.text("'pending'")
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )

    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order")

    __table_args__ = (sa.Index("ix_orders_user_id", "user_id"),)


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigIntKey, sa.Identity(), primary_key=True)
    # The foreign key was only added (NOT VALID, then validated) in revision 0006.
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.ForeignKey("orders.id", name="fk_order_items_order_id"),
        nullable=False,
    )
    product_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.ForeignKey("products.id", name="fk_order_items_product_id"),
        nullable=False,
    )
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False, server_default=sa.text("1"))
    unit_price_cents: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()
