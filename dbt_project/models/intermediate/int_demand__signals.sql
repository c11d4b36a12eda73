-- What counts as a demand signal, for both demand marts (design_demand, design_demand_weekly):
-- an order line (units, its order, its amount in EUR) or a product view, cart add or wishlist of
-- a catalogue product (bots are excluded by int_web__events_attributed), with the person behind
-- it and the product's design attributes. All history: each mart picks its own window. The rows
-- are macros/demand_signals.sql, which int_demand__weekly_cells also reads part by part.
{{ config(materialized='ephemeral') }}
{{ demand_signal_rows() }}
