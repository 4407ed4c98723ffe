BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Enable-DbSync' {
    BeforeEach { $db = Copy-Chinook ("enable-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite') }

    It 'installs capture on every table and emits the capture result' {
        $result = Enable-DbSync -LiteralPath $db
        $result.GetType().FullName | Should -Be 'DbSync.Core.CaptureResult'
        $result.Tables | Should -HaveCount 11
        $result.NodeId | Should -Not -BeNullOrEmpty
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeTrue
        Invoke-Sqlite $db "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '_dbsync_%'" -Scalar | Should -Be 33
    }

    It 'captures only tables matching -Table and is idempotent' {
        (Enable-DbSync -LiteralPath $db -Table 'Invoice*').Tables | Sort-Object | Should -Be @('Invoice', 'InvoiceLine')
        $again = Enable-DbSync -LiteralPath $db -Table 'Invoice*'
        $again.Tables | Should -HaveCount 2
    }

    It 'keeps the password of a connection string given as the path out of its What-if and verbose text' {
        (Invoke-ChildPwsh "Enable-DbSync -Path '$Pg' -WhatIf -ErrorAction SilentlyContinue").Output | Should -Match "What if: Install change capture in '.*Password=\*\*\*;.*'\."
        $shown = Get-StreamText { Enable-DbSync -Path $Pg -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match "Install change capture in '.*Password=\*\*\*;.*'\."
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'changes nothing with -WhatIf, and names the tables it would capture and skip' {
        Invoke-Sqlite $db "CREATE TABLE AlNoKey (a TEXT)"
        $before = Get-FileHashText $db
        Enable-DbSync -LiteralPath $db -WhatIf | Should -BeNullOrEmpty
        $shown = (Invoke-ChildPwsh "Enable-DbSync -LiteralPath '$db' -Table Al* -WhatIf").Output
        $shown | Should -Match "Capture table 'Album'"
        $shown | Should -Not -Match "Capture table 'Artist'"
        $shown | Should -Match "AlNoKey' has no primary key"
        Get-FileHashText $db | Should -Be $before
    }

    It 'waits -BusyTimeout for another program''s lock, then fails with DbSync.SourceBusy and changes nothing' {
        $before = Get-FileHashText $db
        $type = Get-ModuleType 'Microsoft.Data.Sqlite' 'Microsoft.Data.Sqlite.SqliteConnection'
        $holder = [Activator]::CreateInstance($type, "Data Source=$db;Pooling=False")
        try {
            $holder.Open()
            $command = $holder.CreateCommand()
            $command.CommandText = 'BEGIN EXCLUSIVE'
            $null = $command.ExecuteNonQuery()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            { Enable-DbSync -LiteralPath $db -BusyTimeout 1 } | Should -Throw -ErrorId 'DbSync.SourceBusy,DbSync.PowerShell.Commands.EnableDbSyncCommand'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
        }
        finally { $holder.Dispose() }
        Get-FileHashText $db | Should -Be $before
    }

    It 'throws DbSync.TableNotFound when a pattern matches no table' {
        { Enable-DbSync -LiteralPath $db -Table 'Nope*' } | Should -Throw -ErrorId 'DbSync.TableNotFound,DbSync.PowerShell.Commands.EnableDbSyncCommand'
    }

    It 'throws DbSync.SourceNotFound for a missing file, with the path as target' {
        $missing = Join-Path $TestDrive 'missing.sqlite'
        $err = $null
        try { Enable-DbSync -LiteralPath $missing } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DbSync.SourceNotFound,*'
        $err.TargetObject | Should -Be $missing
    }
}
