module github.com/olmolab/olmolab

go 1.26.8
