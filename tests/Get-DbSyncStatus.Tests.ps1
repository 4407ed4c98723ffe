BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Get-DbSyncStatus' {
    BeforeEach {
        $schema = New-TestSchema
        $db = Copy-Chinook ("status-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
    }
    AfterEach { Remove-TestSchema $schema }

    It 'reports a file without capture and changes nothing' {
        $before = Get-FileHashText $db
        $status = Get-DbSyncStatus -LiteralPath $db
        $status.GetType().FullName | Should -Be 'DbSync.Core.Diagnostics.DatabaseStatus'
        $status.CaptureEnabled | Should -BeFalse
        $status.TargetReachable | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }

    It 'reports pending changes, the last run and a reachable target' {
        Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema | Out-Null
        Invoke-Sqlite $db "UPDATE Artist SET Name = Name || '!' WHERE ArtistId <= 3"
        $status = Get-DbSyncStatus -LiteralPath $db -ConnectionString $Pg
        $status.CaptureEnabled | Should -BeTrue
        $status.TriggersIntact | Should -BeTrue
        $status.PendingChanges | Should -Be 3
        $status.LastRun.Status.ToString() | Should -Be 'Succeeded'
        $status.TargetReachable | Should -BeTrue
    }

    It 'reports an unreachable target without failing' {
        $status = Get-DbSyncStatus -LiteralPath $db -ConnectionString 'Host=127.0.0.1;Port=1;Username=x;Password=Secret-99;Timeout=2' -TargetTimeout 2
        $status.TargetReachable | Should -BeFalse
        $status.TargetError | Should -Not -BeNullOrEmpty
        ($status | Format-List * | Out-String) | Should -Not -Match 'Secret-99'
    }

    It 'emits one object per table with -Detailed' {
        Enable-DbSync -LiteralPath $db | Out-Null
        $all = Get-DbSyncStatus -LiteralPath $db -Detailed
        $all[0].GetType().Name | Should -Be 'DatabaseStatus'
        $tables = $all | Where-Object { $_.GetType().Name -eq 'TableStatus' }
        $tables | Should -HaveCount 11
        ($tables | Where-Object Name -eq 'Track').Captured | Should -BeTrue
    }

    It 'shows -Detailed tables in the table view, in an 80-column console, and names the file in ToString' {
        Enable-DbSync -LiteralPath $db | Out-Null
        $text = Get-DbSyncStatus -LiteralPath $db -Detailed | Out-String -Width 80
        $text -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
        $text | Should -Match 'Name\s+Captured\s+Triggers\s+Pending\s+Loaded'
        # Enabled, never synced: every row of the table waits for its first copy (docs/cli.md, status).
        $text | Should -Match '(?m)^Track\s+True\s+True\s+3503\s+False'
        $text | Should -Not -Match '(?m)^Name\s+: Track'
        $text | Should -Match ([regex]::Escape($db))
        $status = Get-DbSyncStatus -LiteralPath $db
        "$status" | Should -Match ([regex]::Escape($db))
        $text = $status | Out-String -Width 80
        $text -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
        $text | Should -Match "Directory: $([regex]::Escape((Split-Path $db -Parent)))"
        $text | Should -Match 'Capture\s+Triggers\s+Pending\s+LastRun\s+Reachable\s+File'
        $text | Should -Match "True\s+True\s+15607\s+$([regex]::Escape((Split-Path $db -Leaf)))"
    }

    It 'feeds Start-DbSync by property name' {
        Enable-DbSync -LiteralPath $db | Out-Null
        $result = Get-DbSyncStatus -LiteralPath $db | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre
        $result.Status.ToString() | Should -Be 'Succeeded'
        $result.Path | Should -Be $db
    }

    It 'feeds Start-DbSync with -Detailed too: the tables name their file, which is synced once' {
        Enable-DbSync -LiteralPath $db | Out-Null
        $status = @(Get-DbSyncStatus -LiteralPath $db -Detailed)
        $status.Count | Should -Be 12
        $status | Select-Object -Skip 1 | ForEach-Object { $_.Path | Should -Be $db }
        $results = @($status | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre)
        $results.Count | Should -Be 1
        $results[0].Path | Should -Be $db
        @(Get-DbSyncLog -LiteralPath $db).Count | Should -Be 1
        Test-Path (Join-Path (Get-Location) 'DbSync.Core.Diagnostics.TableStatus-dbsync-log.jsonl') | Should -BeFalse
    }

    It 'reports every file of a folder, with an error for the one it cannot read' {
        $folder = New-ShopFolder $db 'status'

        $statuses = Get-DbSyncStatus -Path (Join-Path $folder '*.sqlite') -ErrorAction SilentlyContinue -ErrorVariable failures
        $statuses.Path | Split-Path -Leaf | Sort-Object | Should -Be @('a.sqlite', 'c.sqlite')
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'DbSync.SourceNotSqlite,DbSync.PowerShell.Commands.GetDbSyncStatusCommand'
    }

    It 'throws DbSync.SourceNotFound for a missing file' {
        { Get-DbSyncStatus -LiteralPath (Join-Path $TestDrive 'none.sqlite') } | Should -Throw -ErrorId 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncStatusCommand'
    }
}
