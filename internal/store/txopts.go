package store

import "database/sql"

type sqlTxOptions = sql.TxOptions
